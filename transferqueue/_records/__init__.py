"""The records handed out (jobs, files, progress), their enums and their JSON."""
