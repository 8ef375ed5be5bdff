"""The local-copy executor, its kernel copy and the local listing."""
