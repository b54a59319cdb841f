"""The profile as one view: the header facts, the score in words, the linked Customer's ERPNext figures
(summary) and one chronological feed of everything that happened to the profile (timeline)."""
