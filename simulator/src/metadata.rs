//! Instance and entity metadata, shaped like the API model (`InstanceInfo`, `IEntityMetadata`,
//! `IC360EntityModel`, `PartitionMetadata`).

use serde_json::{Value as Json, json};

use crate::ids;
use crate::schema::{EntityKind, Schema};
use crate::store::Store;
use crate::time::SimTime;

/// Rows per CSV partition of an entity.
pub const PARTITION_ROWS: u64 = 50_000;

/// `InstanceInfo` of the simulated instance.
pub fn instance_info(instance_id: &str, name: &str, created: SimTime) -> Json {
    json!({
        "instanceId": instance_id,
        "name": name,
        "instanceType": "sandbox",
        "expiryTimeUtc": null,
        "scaleUnitId": "insightsim-local",
        "azureRegion": "local",
        "platformType": "CustomerInsights",
        "createdUtc": created.to_rfc3339(),
    })
}

/// `IEntityMetadata` of one entity.
pub fn entity_metadata(
    store: &Store,
    entity: usize,
    base_url: &str,
    instance_id: &str,
    seed: u64,
    refreshed: SimTime,
) -> Json {
    let e = store.entity(entity);
    let schema = &e.schema;
    let attributes: Vec<Json> = schema.attributes.iter().map(attribute_json).collect();
    let keys: Vec<Json> = schema
        .key
        .map(|k| vec![json!([attribute_json(&schema.attributes[k])])])
        .unwrap_or_default();
    let datasource_id = schema
        .data_source
        .as_ref()
        .map(|ds| ids::uuid(seed, &["datasource", ds]));
    let rows = store.base_len(e);
    let partitions = partitions(store, entity, base_url, instance_id, refreshed);
    json!({
        "name": schema.name,
        "qualifiedEntityName": schema.name,
        "dataSourceName": schema.data_source,
        "datasourceId": datasource_id,
        "dataflowType": dataflow_type(schema),
        "entityType": schema.kind.entity_type(),
        "attributes": attributes,
        "keys": keys,
        "relationships": [],
        "refreshTime": refreshed.to_rfc3339(),
        "partitions": partitions,
        "rowCount": rows,
    })
}

/// The entity's CSV partitions (`PartitionMetadata`), as its metadata lists them and
/// "Retrieve partitions for an entity V2" answers them.
pub fn partitions(
    store: &Store,
    entity: usize,
    base_url: &str,
    instance_id: &str,
    refreshed: SimTime,
) -> Vec<Json> {
    let e = store.entity(entity);
    let schema = &e.schema;
    let partition_count = store.base_len(e).div_ceil(PARTITION_ROWS).max(1);
    (0..partition_count)
        .map(|n| {
            json!({
                "name": format!("{}-part{n:05}", schema.name),
                "location": partition_url(base_url, instance_id, &schema.name, n),
                "refreshTime": refreshed.to_rfc3339(),
                "isCIGenerated": schema.kind != EntityKind::SourceTable,
                "forceSasAuth": false,
                "hasHeader": schema.kind == EntityKind::Segment,
            })
        })
        .collect()
}

fn dataflow_type(schema: &Schema) -> &'static str {
    match schema.kind {
        EntityKind::Profile => "conflationResolveConflicts",
        EntityKind::UnifiedActivity => "unifiedActivity",
        EntityKind::CustomerMeasure | EntityKind::BusinessMeasure => "kpi",
        EntityKind::Segment => "segmentation",
        EntityKind::SourceTable => "ingestion",
    }
}

fn attribute_json(a: &crate::schema::Attribute) -> Json {
    json!({
        "name": a.name,
        "friendlyName": a.name,
        "baseName": a.name,
        "dataType": a.ty.edm(),
        "semanticType": a.semantic_type,
        "searchProperties": {
            "isSearchable": a.searchable,
            "isFilterable": a.filterable,
            "isFacetable": false,
            "isSortable": true,
        },
    })
}

/// The URL of one CSV partition ("Retrieve data from a partition").
pub fn partition_url(base_url: &str, instance_id: &str, entity: &str, n: u64) -> String {
    format!("{base_url}/v1/instances/{instance_id}/partitions/{entity}/{n}.csv")
}
