"""The web front ends: LINE's webhook, the local web chat, the circular pages, the health
check, the access log."""
