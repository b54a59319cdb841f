"""NPS and CSAT surveys: invitations with signed, expiring links, answers, detractor follow-up
(docs/nurture.md, "Feedback and satisfaction"). The decisions are pure, in crm_fishpond.engine.feedback."""
