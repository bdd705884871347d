//! Outcomes that carry their own exit code. Everything else is an `anyhow::Error` (exit 1).
use std::fmt;

/// Exit codes, kubectl style: 0 success, 1 failure, 2 refused or misused.
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum KaptureError {
    /// The user declined a prompt, or a destructive action ran without a TTY and without --yes.
    #[error("{0}")]
    Refused(String),
    /// Flag values that parse but make no sense together.
    #[error("{0}")]
    InvalidInput(String),
    #[error("cluster unreachable at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("unauthorized: the cluster rejected the credentials of context {context:?} (401)")]
    Unauthorized { context: String },
    #[error("forbidden: {user} cannot {verb} {resource}{}", in_namespace(.namespace))]
    Forbidden {
        user: String,
        verb: String,
        resource: String,
        namespace: Option<String>,
    },
    #[error("eviction of pod {pod} blocked by PodDisruptionBudget {pdb}")]
    BlockedByPdb { pod: String, pdb: String },
    #[error("{0}")]
    NotFound(String),
}

fn in_namespace(ns: &Option<String>) -> String {
    ns.as_ref()
        .map(|n| format!(" in namespace {n:?}"))
        .unwrap_or_default()
}

impl KaptureError {
    pub fn exit_code(&self) -> i32 {
        match self {
            KaptureError::Refused(_) | KaptureError::InvalidInput(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

/// Exit code for any error: the typed outcome's own code, else 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<KaptureError>())
        .map(KaptureError::exit_code)
        .unwrap_or(EXIT_FAILURE)
}

/// One line for the user: the outermost context first, then the causes, joined by ": ".
pub struct OneLine<'a>(pub &'a anyhow::Error);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for cause in self.0.chain() {
            if !first {
                f.write_str(": ")?;
            }
            first = false;
            write!(f, "{cause}")?;
        }
        Ok(())
    }
}
