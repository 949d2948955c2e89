from ops import request_id
from ops.views import healthz


class RequestIdMiddleware:
    """Gives every request an id: the proxy's X-Request-ID when sane, else a new one.

    The id is on `request.request_id`, in every log record of the request (ops.log) and in the
    response's X-Request-ID header, so a user's report, nginx's and gunicorn's access logs and
    the app's errors can be matched up. First in MIDDLEWARE so that everything after it is
    covered.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id.from_header(request.headers.get(request_id.HEADER))
        token = request_id.current.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id.current.reset(token)
        response[request_id.HEADER] = request.request_id
        return response


class HealthCheckMiddleware:
    """Answers /healthz before anything that could turn a load balancer's check away.

    Load balancers often call each host by its IP address, or send a Host header of their own,
    which ALLOWED_HOSTS rightly rejects in CommonMiddleware (a 400 that would take every host
    out of rotation). Answering here, before CommonMiddleware and the HTTPS redirect, keeps the
    check independent of host names and of TLS; the answer holds nothing that depends on the
    host, so skipping host validation exposes nothing. Placed right after RequestIdMiddleware.
    """

    path = "/healthz"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == self.path:
            return healthz(request)
        return self.get_response(request)
