"""Email capability: the ``send_email`` actor, its templates and their renderer."""
