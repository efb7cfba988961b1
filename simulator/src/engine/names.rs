//! The names of the catalog's objects, as a question one owner asks and another answers (a
//! leaf, so that neither imports the other).

/// What validating a subscription needs to know of the catalog: its objects' names. The
/// subscriptions owner asks; the catalog owner answers.
pub(super) trait Names {
    fn find_source(&self, name: &str) -> Option<usize>;
    fn find_segment(&self, name: &str) -> Option<usize>;
    fn find_measure(&self, name: &str) -> Option<usize>;
    /// The canonical name of a customer measure (a column of `Customer_Measure`).
    fn find_customer_measure(&self, name: &str) -> Option<&str>;
    /// The valid names of a kind of object (`data source`, `segment`, `measure`).
    fn names_of(&self, kind: &str) -> Vec<String>;
    fn source_name(&self, i: usize) -> &str;
    /// Name and friendly name.
    fn segment_names(&self, i: usize) -> (&str, &str);
    /// Name, display name and dimension.
    fn measure_names(&self, i: usize) -> (&str, &str, Option<&str>);
}
