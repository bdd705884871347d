//! Kubernetes object names (RFC 1123), checked before they reach the API server. Pure.

/// A DNS label: 1 to 63 lower-case letters, digits and `-`, starting and ending with a letter or
/// digit (names of namespaces and Services add: starting with a letter).
pub fn is_label(label: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&label.len())
        && label.chars().all(|c| alphanumeric(c) || c == '-')
        && label.chars().next().is_some_and(alphanumeric)
        && label.chars().next_back().is_some_and(alphanumeric)
}

/// A DNS subdomain (names of Secrets, ConfigMaps, ...): labels joined by `.`, at most 253.
pub fn is_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        for good in ["a", "kapture-mongo", "0db", &"x".repeat(63)] {
            assert!(is_label(good), "{good:?}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"x".repeat(64)] {
            assert!(!is_label(bad), "{bad:?}");
        }
        assert!(is_subdomain("their-mongo.v1"));
        assert!(is_subdomain(&["a"; 127].join(".")), "253 characters");
        for bad in ["", "a..b", ".a", "a.", "Their", &["a"; 128].join(".")] {
            assert!(!is_subdomain(bad), "{bad:?}");
        }
    }
}
