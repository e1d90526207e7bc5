"""Services: one module per service, each owning a :class:`bot.router.Router`."""
