"""unionbot: a trade-union federation's chat bot, channel-free at its core."""
