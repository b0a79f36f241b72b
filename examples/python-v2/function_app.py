"""Python v2 programming model sample: decorators on a FunctionApp, plus a registered blueprint."""

import logging

import azure.functions as func
import requests

from blueprint import bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)


@app.route(route="hello", methods=["GET", "POST"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    name = req.params.get("name") or "world"
    return func.HttpResponse(f"Hello, {name}! (requests {requests.__name__})")


@app.function_name(name="Tick")
@app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
def tick_every_five_minutes(timer: func.TimerRequest) -> None:
    logging.info("tick (past due: %s)", timer.past_due)
