"""Example plugins: programs started by services.auth.oauth.plugin_runner with their OAuth credentials injected."""
