"""Logs an error and exits 0, as several jobs of the open VSS catalogue do."""

import logging

logging.basicConfig(format="%(asctime)s - %(levelname)s - %(message)s", level=logging.INFO)
logging.info("closing the port")
logging.error("could not revoke the rule: AccessDenied")
