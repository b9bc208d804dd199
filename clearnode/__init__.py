"""clearnode for the people who use a network rather than run it: `clearnode.client`."""
