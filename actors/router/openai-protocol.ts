/**
 * The slice of the OpenAI API the gateway and the llama.cpp backend speak, with validation of what
 * comes in from the network: bounded sizes, typed errors with stable codes, nothing trusted.
 */

/** A chat message. */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string;
}

/** A validated generation request (chat or plain completion). */
export interface GenerationRequest {
  readonly kind: 'chat' | 'completion';
  readonly model: string;
  readonly messages?: readonly ChatMessage[];
  readonly prompt?: string;
  readonly maxTokens: number;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** `user` field: the session key affinity follows. */
  readonly user?: string;
}

/** Limits on what a request may carry. */
export interface ProtocolLimits {
  readonly bodyBytesMax: number;
  readonly messagesMax: number;
  readonly maxTokensMax: number;
}

/** The defaults. */
export const protocolLimits: ProtocolLimits = { bodyBytesMax: 1024 * 1024, messagesMax: 512, maxTokensMax: 4_096 };

/** A refused request: an HTTP status and an OpenAI-style error body. */
export interface ApiFailure {
  readonly ok: false;
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** Builds a failure. */
export function apiFailure(status: number, code: string, message: string): ApiFailure {
  return { ok: false, status, code, message };
}

/** The JSON error body OpenAI clients read (`error.message`, `error.code`). */
export function errorBody(failure: Pick<ApiFailure, 'code' | 'message'>): string {
  return JSON.stringify({ error: { message: failure.message, type: 'invalid_request_error', code: failure.code } });
}

const roles = new Set(['system', 'user', 'assistant', 'tool']);

function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  // Content parts: only text parts are understood.
  let text = '';
  for (const part of content as unknown[]) {
    if (typeof part !== 'object' || part === null) return undefined;
    const { type, text: partText } = part as { type?: unknown; text?: unknown };
    if (type !== 'text' || typeof partText !== 'string') return undefined;
    text += partText;
  }
  return text;
}

/** Validates a parsed JSON body for `/v1/chat/completions` or `/v1/completions`. */
export function parseGenerationRequest(kind: 'chat' | 'completion', body: unknown, limits: ProtocolLimits = protocolLimits): GenerationRequest | ApiFailure {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return apiFailure(400, 'invalid_body', 'the body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const model = typeof fields.model === 'string' ? fields.model.slice(0, 200) : 'default';
  const rawMax = fields.max_completion_tokens ?? fields.max_tokens ?? 16;
  if (typeof rawMax !== 'number' || !Number.isInteger(rawMax) || rawMax < 1 || rawMax > limits.maxTokensMax) {
    return apiFailure(400, 'invalid_max_tokens', `max_tokens must be an integer from 1 to ${limits.maxTokensMax}`);
  }
  const stream = fields.stream === true;
  const options = fields.stream_options;
  const includeUsage = typeof options === 'object' && options !== null && (options as { include_usage?: unknown }).include_usage === true;
  const user = typeof fields.user === 'string' && fields.user.length > 0 ? fields.user.slice(0, 256) : undefined;
  const common = { kind, model, maxTokens: rawMax, stream, includeUsage, ...(user === undefined ? {} : { user }) };
  if (kind === 'completion') {
    if (typeof fields.prompt !== 'string') return apiFailure(400, 'invalid_prompt', 'prompt must be a string');
    return { ...common, prompt: fields.prompt };
  }
  if (!Array.isArray(fields.messages) || fields.messages.length === 0 || fields.messages.length > limits.messagesMax) {
    return apiFailure(400, 'invalid_messages', `messages must be an array of 1 to ${limits.messagesMax} messages`);
  }
  const messages: ChatMessage[] = [];
  for (const message of fields.messages as unknown[]) {
    if (typeof message !== 'object' || message === null) return apiFailure(400, 'invalid_messages', 'each message must be an object');
    const { role, content } = message as { role?: unknown; content?: unknown };
    const text = contentText(content);
    if (typeof role !== 'string' || !roles.has(role) || text === undefined) return apiFailure(400, 'invalid_messages', 'each message needs a known role and text content');
    messages.push({ role: role as ChatMessage['role'], content: text });
  }
  return { ...common, messages };
}

/**
 * The text a request's prompt starts with, as the router keys it: messages rendered in order, so a
 * conversation's next turn extends its previous prompt and completion.
 */
export function routingText(request: Pick<GenerationRequest, 'messages' | 'prompt'>): string {
  if (request.prompt !== undefined) return request.prompt;
  return (request.messages ?? []).map((message) => `${message.role}:${message.content}\n`).join('');
}

/** The routing text once the completion is appended (what a backend's cache holds after serving). */
export function routingTextAfter(request: Pick<GenerationRequest, 'messages' | 'prompt'>, completion: string): string {
  if (request.prompt !== undefined) return request.prompt + completion;
  return routingText({ messages: [...(request.messages ?? []), { role: 'assistant', content: completion }] });
}
