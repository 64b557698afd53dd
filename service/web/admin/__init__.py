"""The admin API: service.admin's operations over HTTP, JSON:API style, on a listener of its
own (admin.host, admin.port), never on the public one."""
