"""Segment 2A — civil time: site time zones and the tz timetable cache (layer1 §3)."""
