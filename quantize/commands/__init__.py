"""One module per ``python -m quantize`` command; heavy imports happen inside the commands."""
