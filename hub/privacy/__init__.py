"""Privacy by design: the data inventory, the person's rights, and the audit trail."""
