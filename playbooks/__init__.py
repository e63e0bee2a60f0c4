"""The four symptom playbooks, as Markdown files with front matter (data, shipped in the wheel)."""
