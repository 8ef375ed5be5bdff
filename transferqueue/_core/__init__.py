"""The queue's machinery: the queue, its jobs and workers, retries, limits and settings."""
