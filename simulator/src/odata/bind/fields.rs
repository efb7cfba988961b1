//! Resolving field names of an entity, exactly and then ignoring ASCII case, with the valid
//! names and a did-you-mean in every error.

use crate::odata::words::{did_you_mean, join, shorten};
use crate::odata::{QueryError, code};
use crate::schema::{AttrId, Schema};

/// The fields of one entity, for every option that names them.
pub(super) struct Fields<'a> {
    pub(super) schema: &'a Schema,
}

impl Fields<'_> {
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.schema.attributes.iter().map(|a| a.name.as_str())
    }

    /// A field of `$select` or `$orderby`, where every attribute is allowed.
    pub(super) fn any_field(&self, name: &str, option: &str) -> Result<AttrId, QueryError> {
        self.schema.attr(name).ok_or_else(|| {
            let names: Vec<&str> = self.names().collect();
            QueryError::new(
                code::UNKNOWN_FIELD,
                option,
                format!(
                    "unknown field \"{}\" in {option}; fields of {} are {}{}",
                    shorten(name),
                    self.schema.name,
                    join(&names),
                    did_you_mean(name, names.iter().copied())
                ),
            )
        })
    }

    /// `; filterable fields of X are A, B` or `; X has no filterable fields`; with `keyed`, the
    /// fields filterable only next to an `eq` condition on one of them follow.
    pub(super) fn filterable_list(&self, keyed: bool) -> String {
        let filterable = self.schema.filterable_names();
        let with_key = self.schema.keyed_filter_names();
        if filterable.is_empty() {
            return format!("; {} has no filterable fields", self.schema.name);
        }
        let mut out = format!(
            "; filterable fields of {} are {}",
            self.schema.name,
            join(&filterable)
        );
        if keyed && !with_key.is_empty() {
            out.push_str(&format!(
                ", and {} together with an eq condition on {}",
                join(&with_key),
                or_list(&filterable)
            ));
        }
        out
    }
}

/// `A`, `A or B`, `A, B or C`.
pub(super) fn or_list(names: &[&str]) -> String {
    last_with(names, "or")
}

/// `A`, `A and B`, `A, B and C`.
pub(super) fn and_list(names: &[&str]) -> String {
    last_with(names, "and")
}

fn last_with(names: &[&str], word: &str) -> String {
    match names {
        [] => "none".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}
