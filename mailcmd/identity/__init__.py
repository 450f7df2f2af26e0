"""Who is writing: accounts and their logins, the throttling of failed logins, senders
verified at other domains, and whether an inbound message is from whom it says.
"""
