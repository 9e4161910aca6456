"""Users hitting a known server: successes, a 500 path and a connection-dropping path."""

from locust import FastHttpUser, HttpUser, constant, task


class RequestsUser(HttpUser):
    wait_time = constant(0.02)

    @task(4)
    def ok(self) -> None:
        self.client.get("/ok")

    @task(1)
    def err(self) -> None:
        self.client.get("/err")

    @task(1)
    def close(self) -> None:
        self.client.get("/close")


class FastUser(FastHttpUser):
    wait_time = constant(0.02)

    @task(4)
    def ok(self) -> None:
        self.client.get("/ok")

    @task(1)
    def err(self) -> None:
        self.client.get("/err")

    @task(1)
    def close(self) -> None:
        self.client.get("/close")


class SlowUser(HttpUser):
    wait_time = constant(0.0)

    @task
    def slow(self) -> None:
        self.client.get("/slow")
