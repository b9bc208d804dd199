"""The operator's reference made from the code: above every service, whose routes,
config keys and metrics it tables; nothing imports it."""
