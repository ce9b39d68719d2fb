"""HTTP routes of the collector: thin translations between requests and plain functions."""
