//! Which password of a store (Postgres, MongoDB) a client dry run renders. Pure: the caller
//! reads the Secret and generates passwords.
//!
//! Both stores read their password once, when they initialise their data directory. A normal deploy
//! keeps an existing Secret as it is (`kept`); `deploy --dry-run=client -o yaml | kubectl
//! apply -f -` cannot, because kubectl applies whatever the output holds. So the output carries
//! the password the Secret already has, and applying it leaves the Secret unchanged; where that
//! cannot be known, it carries a new one and says so.
use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

use crate::component::Component;
use crate::manifests;

/// The key of the password in each store's Secret.
pub const SECRET_KEY: &str = "password";

/// A store whose password lives in a generated Secret named after its component
/// (`kapture-postgres`, `kapture-mongo`; rendered by its manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Postgres,
    Mongo,
}

impl Store {
    pub const ALL: [Store; 2] = [Store::Postgres, Store::Mongo];

    pub const fn component(self) -> Component {
        match self {
            Store::Postgres => Component::Postgres,
            Store::Mongo => Component::Mongo,
        }
    }

    /// How the warnings call it.
    const fn label(self) -> &'static str {
        match self {
            Store::Postgres => "Postgres",
            Store::Mongo => "MongoDB",
        }
    }

    pub fn secret_name(self) -> String {
        self.component().object_name()
    }
}

/// The password of every store, as the templates see them (`passwords.postgres`). Never logged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Passwords {
    pub postgres: String,
    pub mongo: String,
}

impl Passwords {
    pub fn of_mut(&mut self, store: Store) -> &mut String {
        match store {
            Store::Postgres => &mut self.postgres,
            Store::Mongo => &mut self.mongo,
        }
    }
}

/// What the cluster said about the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Kapture's Secret, holding this password.
    Found(String),
    /// No Secret of that name in the namespace.
    Absent,
    /// A Secret of that name whose password cannot be reused: why.
    Unusable(String),
    /// The cluster could not be asked or did not answer: why, in one line.
    Unknown(String),
}

impl Lookup {
    /// Classifies what a GET of the Secret returned.
    pub fn of(secret: Option<&Secret>) -> Lookup {
        let Some(secret) = secret else {
            return Lookup::Absent;
        };
        if !manifests::is_kapture_labelled(&secret.metadata) {
            return Lookup::Unusable("was not created by Kapture".to_string());
        }
        let value = secret.data.as_ref().and_then(|d| d.get(SECRET_KEY));
        match value.map(|v| String::from_utf8(v.0.clone())) {
            Some(Ok(password)) if !password.is_empty() => Lookup::Found(password),
            Some(Ok(_)) => Lookup::Unusable(format!("has an empty key {SECRET_KEY:?}")),
            Some(Err(_)) => Lookup::Unusable(format!("has a key {SECRET_KEY:?} that is not text")),
            None => Lookup::Unusable(format!("has no key {SECRET_KEY:?}")),
        }
    }
}

/// The password to render, and what to tell the user about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub password: String,
    /// The cluster's Secret already holds it.
    pub reused: bool,
    /// One line for stderr when the output carries a new password.
    pub warning: Option<String>,
}

/// The existing password when there is one; otherwise a new one from `generate`, with a warning
/// that names the Secret, the namespace and why.
pub fn choose(
    store: Store,
    lookup: Lookup,
    namespace: &str,
    generate: impl FnOnce() -> String,
) -> Choice {
    let secret = store.secret_name();
    let consequence = format!(
        "the output carries a new password; applying it over an initialised {} would break logins",
        store.label()
    );
    let warning = match lookup {
        Lookup::Found(password) => {
            return Choice {
                password,
                reused: true,
                warning: None,
            }
        }
        Lookup::Absent => {
            format!("no Secret {secret} in namespace {namespace:?}: {consequence}")
        }
        Lookup::Unusable(why) => {
            format!("Secret {secret} in namespace {namespace:?} {why}: {consequence}")
        }
        Lookup::Unknown(why) => {
            format!("cannot read Secret {secret} in namespace {namespace:?} ({why}): {consequence}")
        }
    };
    Choice {
        password: generate(),
        reused: false,
        warning: Some(warning),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;
    use crate::manifests::{LABEL_PART_OF, PART_OF};

    fn secret(part_of: Option<&str>, data: &[(&str, &[u8])]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some(Store::Postgres.secret_name());
        s.metadata.labels =
            part_of.map(|v| BTreeMap::from([(LABEL_PART_OF.to_string(), v.to_string())]));
        s.data = Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect(),
        );
        s
    }

    fn fresh() -> String {
        "fresh".to_string()
    }

    #[test]
    fn an_existing_password_is_reused_and_nothing_is_generated() {
        let ours = secret(Some(PART_OF), &[(SECRET_KEY, b"s3cret")]);
        let lookup = Lookup::of(Some(&ours));
        assert_eq!(lookup, Lookup::Found("s3cret".into()));
        let choice = choose(Store::Postgres, lookup, "ns", || {
            panic!("generated although one exists")
        });
        assert_eq!(
            choice,
            Choice {
                password: "s3cret".into(),
                reused: true,
                warning: None
            }
        );
    }

    #[test]
    fn an_absent_secret_gets_a_new_password_and_one_warning_line() {
        assert_eq!(Lookup::of(None), Lookup::Absent);
        let choice = choose(Store::Postgres, Lookup::Absent, "team-a", fresh);
        assert_eq!(choice.password, "fresh");
        assert!(!choice.reused);
        let warning = choice.warning.unwrap();
        assert_eq!(
            warning,
            "no Secret kapture-postgres in namespace \"team-a\": the output carries a new password; \
             applying it over an initialised Postgres would break logins"
        );
        assert!(!warning.contains('\n'));
    }

    #[test]
    fn a_secret_that_cannot_be_reused_says_why() {
        let cases = [
            (
                secret(None, &[(SECRET_KEY, b"x")]),
                "was not created by Kapture",
            ),
            (secret(Some(PART_OF), &[("other", b"x")]), "has no key"),
            (
                secret(Some(PART_OF), &[(SECRET_KEY, b"")]),
                "has an empty key",
            ),
            (
                secret(Some(PART_OF), &[(SECRET_KEY, &[0xff, 0xfe])]),
                "is not text",
            ),
        ];
        for (s, why) in cases {
            let lookup = Lookup::of(Some(&s));
            assert!(
                matches!(&lookup, Lookup::Unusable(w) if w.contains(why)),
                "{lookup:?}"
            );
            let choice = choose(Store::Postgres, lookup, "ns", fresh);
            assert_eq!(choice.password, "fresh");
            let warning = choice.warning.unwrap();
            assert!(
                warning.starts_with("Secret kapture-postgres in namespace \"ns\" ")
                    && warning.contains(why),
                "{warning}"
            );
        }
    }

    #[test]
    fn an_unanswered_lookup_names_the_reason() {
        let why = "forbidden: user \"nobody\" cannot get secrets/kapture-mongo in namespace \"ns\"";
        let choice = choose(Store::Mongo, Lookup::Unknown(why.into()), "ns", fresh);
        assert_eq!(choice.password, "fresh");
        let warning = choice.warning.unwrap();
        assert!(
            warning
                .starts_with("cannot read Secret kapture-mongo in namespace \"ns\" (forbidden: "),
            "{warning}"
        );
        assert!(
            warning.ends_with("over an initialised MongoDB would break logins"),
            "{warning}"
        );
    }
}
