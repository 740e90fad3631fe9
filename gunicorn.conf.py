# gunicorn settings for the web process (Procfile: `gunicorn --config gunicorn.conf.py …`).
# The access log never holds the keys in addresses (/c/<token>, /console/link/<token>,
# /m/<token>) nor query strings (?q=<nickname>): bot.web.accesslog redacts them.
logger_class = "bot.web.accesslog.RedactingLogger"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


def post_worker_init(worker):
    """Every language's words and the Japanese dictionary (about 140 MB), read before the first
    request rather than on a resident's first message; a word list that does not load stops the
    web process here. Only the web process reads residents' words: the worker and the clock
    load them only if a job needs them, and stay small."""
    # late: gunicorn reads this file before it imports the app
    from bot.core import heap, understand

    understand.warm()
    heap.freeze_startup()  # the full garbage collection no longer walks what start-up loaded
