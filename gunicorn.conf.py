# gunicorn settings for the web process (Procfile: `gunicorn --config gunicorn.conf.py …`).
# The access log never holds the keys in addresses (/c/<token>, /console/link/<token>,
# /m/<token>) nor query strings (?q=<nickname>): bot.web.accesslog redacts them.
logger_class = "bot.web.accesslog.RedactingLogger"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
