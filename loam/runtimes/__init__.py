"""Code that runs inside execution environments, and the registry naming it."""
