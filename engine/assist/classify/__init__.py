"""Classification for the work order: level-1 category with its 3-level path, the department
recommendation, request type and urgency."""
