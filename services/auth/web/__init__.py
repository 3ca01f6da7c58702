"""Every page the auth service serves to a browser: sign-in, OAuth consent, api.php consent and the control panel.

One template engine (Jinja2 through aiohttp-jinja2, autoescaped), one layout (templates/base.html), one stylesheet and
one script (static/). The protocol packages (oauth/, apiphp/) return what a page needs and this package draws it:
dependencies run web -> protocols -> core, never back.
"""
