"""Development tools: a fake Africa's Talking server and the provider's callback forms."""
