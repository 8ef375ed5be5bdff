"""The Hugging Face executor: hub URLs, its HTTP client, listings and partials."""
