"""Channels: each turns its platform's updates into :mod:`bot.messages` and back.

A channel's platform SDK is imported only inside its own module.
"""
