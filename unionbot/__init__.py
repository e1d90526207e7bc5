"""The application: what assembles the core (:mod:`bot`), the services (:mod:`handlers`) and
the database (:mod:`storage`) into a running bot: the routers it includes, the channels it
serves, the web app and the command line. Nothing below imports from here."""
