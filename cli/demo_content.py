"""Words for the demo traffic: questions, documents and answers that read like real use."""

from __future__ import annotations

PRODUCTS = ["Atlas CRM", "Beacon Analytics", "Cobalt Payments", "Drift Notes"]

TICKETS = [
    "Customer reports that CSV exports from {product} stop at 10,000 rows and asks whether "
    "there is a limit on the Team plan or a setting to raise it.",
    "User cannot log in to {product} after enabling SSO with Okta; the error says the SAML "
    "assertion audience does not match. They changed the entity id yesterday.",
    "Billing question: the invoice for {product} shows 14 seats but the admin console lists 11 "
    "active users. They want a refund for the difference.",
    "Webhook deliveries from {product} to their endpoint fail with timeouts since Tuesday; "
    "their server answers in 12 seconds on average.",
    "The mobile app of {product} crashes on Android 15 when opening a shared dashboard link "
    "from an email notification.",
]

SUMMARIES = [
    "Export limit question on the Team plan; point to the 10k-row cap and the async export.",
    "SSO login broken after an entity id change; ask them to update the audience in Okta.",
    "Seat count mismatch on the invoice; verify deactivated users and offer a prorated credit.",
    "Webhook timeouts; our limit is 10 s, suggest acknowledging first and processing later.",
    "Android 15 crash on deep links; known issue, fix ships in 4.2.1 next week.",
]

QUESTIONS = [
    ("How long are audit logs kept in {product}?", "retention"),
    ("Can I rotate the API key in {product} without downtime?", "keys"),
    ("What is the rate limit of the {product} REST API?", "limits"),
    ("Does {product} support data residency in the EU?", "residency"),
    ("How do I export all my data from {product}?", "export"),
]

DOCUMENTS = {
    "retention": [
        ("kb-101", "Audit logs are retained for 365 days on Business plans and 90 days on Team."),
        ("kb-102", "Older audit events can be streamed to your own storage with log export."),
    ],
    "keys": [
        (
            "kb-201",
            "Each project can hold two active API keys, so a new key can be rolled out "
            "before the old one is revoked.",
        ),
        ("kb-202", "Revoked keys stop working within five seconds across all regions."),
    ],
    "limits": [
        (
            "kb-301",
            "The REST API allows 600 requests per minute per workspace; bursts of 100 "
            "requests are tolerated.",
        ),
        ("kb-302", "Responses include X-RateLimit-Remaining and Retry-After headers."),
    ],
    "residency": [
        ("kb-401", "Workspaces created in the EU region store all data in Frankfurt and Dublin."),
        ("kb-402", "Moving an existing workspace between regions requires a support request."),
    ],
    "export": [
        ("kb-501", "Admins can export all workspace data as JSON from Settings, Data, Export."),
        ("kb-502", "Exports over 1 GB are delivered as a download link by email."),
    ],
}

ANSWERS = {
    "retention": "Audit logs are kept for 365 days on Business plans and 90 days on Team. You "
    "can stream older events to your own storage with log export.",
    "keys": "Yes. A project can hold two active keys, so create the new key, deploy it, then "
    "revoke the old one; revocation takes effect within five seconds.",
    "limits": "The REST API allows 600 requests per minute per workspace, with bursts of up to "
    "100 requests. Watch the X-RateLimit-Remaining and Retry-After headers.",
    "residency": "Yes. Workspaces created in the EU region keep all data in Frankfurt and "
    "Dublin; moving an existing workspace needs a support request.",
    "export": "Go to Settings, Data, Export to download everything as JSON. Exports over 1 GB "
    "arrive as a download link by email.",
}

#: The classifier's system prompt: label definitions and worked examples (few-shot), as real
#: intent classifiers send on every call; it is most of each call's input tokens.
INTENT_GUIDE = (
    "Classify the customer's message into exactly one intent and answer with the label only.\n"
    "Labels:\n"
    "- cancellation: ending, pausing or downgrading a subscription, closing an account, "
    "asking what happens to data after cancelling.\n"
    "- billing: invoices, receipts, payment methods, failed charges, refunds, VAT numbers, "
    "changing the billing address or currency.\n"
    "- bug_report: something is broken, slow, missing or shows an error; include crashes, "
    "timeouts, wrong numbers and pages that do not load.\n"
    "- sales: prices, plans, discounts, quotes, procurement, security questionnaires, "
    "trials for larger teams, talking to someone about buying.\n"
    "- how_to: how to use a feature, where a setting is, how to invite people, how to export, "
    "how to connect an integration.\n"
    "Examples:\n"
    "Message: Please stop renewing our plan after March. -> cancellation\n"
    "Message: Can we pause the account over the summer? -> cancellation\n"
    "Message: The card on file expired, how do I update it? -> billing\n"
    "Message: I need the invoice for October with our VAT number on it. -> billing\n"
    "Message: We were charged twice this month. -> billing\n"
    "Message: Exports fail with error 502 since yesterday. -> bug_report\n"
    "Message: The chart on the overview page shows last week's numbers. -> bug_report\n"
    "Message: Do you have a plan for 300 seats with SSO? -> sales\n"
    "Message: Can you send a quote our procurement team can sign? -> sales\n"
    "Message: How do I connect Slack notifications? -> how_to\n"
    "Message: Where do I change the workspace name? -> how_to\n"
    "If a message mixes intents, choose the one the customer needs resolved first. "
    "Never explain the label; never add punctuation."
)

INTENTS = [
    ("I want to cancel my subscription at the end of the month", "cancellation"),
    ("Where can I download last quarter's invoices?", "billing"),
    ("The dashboard has been loading forever since this morning", "bug_report"),
    ("Do you offer a discount for non-profits?", "sales"),
    ("How do I add a teammate to my workspace?", "how_to"),
]

COPY_BRIEFS = [
    "Write a two-sentence product description for {product} aimed at finance teams.",
    "Write a friendly release note headline for the new {product} export feature.",
    "Suggest a subject line for the {product} onboarding email, day 3.",
]

COPY_OUTPUTS = [
    "{product} gives finance teams one trustworthy view of spend. Close the month in hours, "
    "not days.",
    "Exports, now without limits: {product} ships every row you ask for.",
    "Day 3: three shortcuts that make {product} feel like yours",
]

REPLIES = [
    "Thanks for reaching out! I've looked into this and here is what is happening: {summary} "
    "I'll keep this ticket open until you confirm it works.",
    "Hi there, sorry for the trouble. {summary} Let me know if anything is still unclear.",
]
