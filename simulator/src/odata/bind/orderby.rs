//! Binding `$orderby`: any field of the entity, each with its direction.

use super::fields::Fields;
use crate::odata::{Direction, QueryError};
use crate::schema::AttrId;

/// The keys of `$orderby` in order.
pub(super) fn bind_orderby(
    fields: &Fields<'_>,
    orderby: Vec<(String, Direction)>,
) -> Result<Vec<(AttrId, Direction)>, QueryError> {
    orderby
        .into_iter()
        .map(|(name, direction)| Ok((fields.any_field(&name, "$orderby")?, direction)))
        .collect()
}
