"""Provider adapters. Only this package knows a provider's field names and wire format."""
