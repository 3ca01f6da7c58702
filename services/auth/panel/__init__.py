"""The control panel: server-rendered pages under /panel/ over the same domain operations and permissions as the JSON
management API (seed 002: "the same permissions used to control access within the control panel will be used by the
API"). Visitors sign in through the OAuth server's login page; its session cookie and CSRF token guard every form."""
