"""Functions on a blueprint: they exist once function_app.py registers it."""

import logging

import azure.functions as func

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name="work-items", connection="AzureWebJobsStorage")
def on_work_item(msg: func.QueueMessage) -> None:
    logging.info("work item: %s", msg.get_body().decode())
