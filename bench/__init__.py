"""``python -m bench``: edge-ocr measured side by side with the readers users would otherwise pick.

Every reader runs in its own subprocess on one thread (so its peak memory is its own and its
thread settings cannot leak), on the same deterministic evaluation sets, in the same run.
"""
