// Same-origin calls to the REST API with the session cookie and CSRF token.

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.sentence(status, body));
    this.status = status;
    this.body = body;
  }

  // DRF answers {"detail": "..."} or {"field": ["..."]}: turn either into words.
  static sentence(status, body) {
    if (body && typeof body === "object") {
      if (body.detail) return String(body.detail);
      return Object.entries(body)
        .map(([field, errors]) => `${field}: ${[].concat(errors).join(" ")}`)
        .join(" ");
    }
    return `The server answered ${status}.`;
  }
}

export async function api(method, path, body) {
  const response = await fetch(`/api/v1/${path}`, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export { csrfToken };
