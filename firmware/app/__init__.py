"""The firmware app: config, Wi-Fi, device API, live events, control page."""
