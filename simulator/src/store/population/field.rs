//! The fixed attributes of the `Customer` entity, and the alternate keys after them.

/// The fixed attributes of `Customer`, in serialization order (alternate keys follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomerField {
    CustomerId,
    FirstName,
    LastName,
    FullName,
    EMail,
    Telephone,
    DateOfBirth,
    Gender,
    StreetAddress,
    City,
    State,
    Country,
    PostCode,
    CreatedOn,
    /// The alternate key of data source `n`.
    AltKey(usize),
}

impl CustomerField {
    pub const FIXED: [CustomerField; 14] = [
        CustomerField::CustomerId,
        CustomerField::FirstName,
        CustomerField::LastName,
        CustomerField::FullName,
        CustomerField::EMail,
        CustomerField::Telephone,
        CustomerField::DateOfBirth,
        CustomerField::Gender,
        CustomerField::StreetAddress,
        CustomerField::City,
        CustomerField::State,
        CustomerField::Country,
        CustomerField::PostCode,
        CustomerField::CreatedOn,
    ];

    /// The field of attribute `attr` of the Customer schema.
    pub fn from_attr(attr: usize) -> CustomerField {
        Self::FIXED
            .get(attr)
            .copied()
            .unwrap_or_else(|| CustomerField::AltKey(attr - Self::FIXED.len()))
    }

    pub fn attr(self) -> usize {
        match self {
            CustomerField::AltKey(s) => Self::FIXED.len() + s,
            field => Self::FIXED.iter().position(|f| *f == field).unwrap_or(0),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CustomerField::CustomerId => "CustomerId",
            CustomerField::FirstName => "FirstName",
            CustomerField::LastName => "LastName",
            CustomerField::FullName => "FullName",
            CustomerField::EMail => "EMail",
            CustomerField::Telephone => "Telephone",
            CustomerField::DateOfBirth => "DateOfBirth",
            CustomerField::Gender => "Gender",
            CustomerField::StreetAddress => "StreetAddress",
            CustomerField::City => "City",
            CustomerField::State => "State",
            CustomerField::Country => "Country",
            CustomerField::PostCode => "PostCode",
            CustomerField::CreatedOn => "CreatedOn",
            CustomerField::AltKey(_) => "",
        }
    }

    pub fn is_string(self) -> bool {
        !matches!(self, CustomerField::DateOfBirth | CustomerField::CreatedOn)
    }
}
