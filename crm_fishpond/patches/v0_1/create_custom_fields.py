from crm_fishpond.setup import create_custom_fields


def execute():
	create_custom_fields()
