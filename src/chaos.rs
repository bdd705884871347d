//! Chaos plans: which pods to disrupt, when, and how. Pure and seeded.
