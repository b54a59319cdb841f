"""Engine errors. Adapters translate them into frappe.throw(_(...))."""


class EngineError(ValueError):
	"""Base class: something in the engine's input or configuration is wrong."""


class EngineInputError(EngineError):
	"""An input DataFrame lacks a column or holds a value of the wrong kind."""


class EngineConfigError(EngineError):
	"""A rule or setting is invalid. ``field`` names the offending field when known."""

	def __init__(self, message: str, field: str | None = None):
		super().__init__(message)
		self.field = field
