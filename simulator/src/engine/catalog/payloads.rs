//! The catalog's parts of trigger payloads: what an event says about a data source, a segment
//! or a measure.

use super::Catalog;
use crate::engine::payload::{
    Common, DataSourcePayload, MeasurePayload, Payload, SegmentPayload, TaskReport,
};
use crate::engine::value::json_number;

impl Catalog {
    /// The payload of `datasource-refresh-failed` or `-succeeded` for source `i`.
    pub(in crate::engine) fn data_source_payload(
        &self,
        common: Common,
        i: usize,
        task: TaskReport,
    ) -> Payload {
        let ds = &self.sources[i];
        Payload::DataSource(DataSourcePayload {
            common,
            data_source_id: ds.id.clone(),
            data_source_name: ds.name.clone(),
            friendly_name: ds.friendly_name.clone(),
            job_id: task.job_id,
            task_status: task.task_status,
            refresh_state: ds.refresh_state,
            last_refresh: ds.last_refresh,
            errors: task.errors,
        })
    }

    /// The payload of `segment-threshold-crossed` for segment `i`.
    pub(in crate::engine) fn segment_payload(
        &self,
        common: Common,
        i: usize,
        threshold: &serde_json::Number,
        previous: u64,
        job_id: &str,
    ) -> Payload {
        let s = &self.segments[i];
        Payload::Segment(SegmentPayload {
            common,
            segment_name: s.name.clone(),
            friendly_name: s.friendly_name.clone(),
            threshold: threshold.clone(),
            previous_count: previous,
            entity_count: s.count,
            evaluation_date: s.latest.evaluation_date,
            job_id: job_id.to_owned(),
        })
    }

    /// The payload of `measure-threshold-crossed` for measure `i`.
    pub(in crate::engine) fn measure_payload(
        &self,
        common: Common,
        i: usize,
        threshold: &serde_json::Number,
        (previous, value): (f64, f64),
        job_id: &str,
    ) -> Payload {
        let m = &self.measures[i];
        Payload::Measure(MeasurePayload {
            common,
            measure_name: m.name.clone(),
            display_name: m.display_name.clone(),
            threshold: threshold.clone(),
            previous_value: json_number(previous),
            value: json_number(value),
            evaluation_time: m.latest.end_time,
            job_id: job_id.to_owned(),
        })
    }
}
