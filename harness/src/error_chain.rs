//! An error and its causes on one line, for reports and flow logs.

/// `"cannot start the flow command `x`: No such file or directory (os error 2)"`: the error's
/// message, then each of its sources' after `": "`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start the flow")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn joins_an_error_and_its_sources() {
        let inner = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(
            error_chain(&Outer(inner)),
            "cannot start the flow: no such file"
        );
    }
}
