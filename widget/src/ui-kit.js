// Import chatscope components from their own modules rather than the package
// index: the index (and ChatContainer, via MessageInput) also pulls in the
// FontAwesome-based buttons, whose runtime adds global state and <style> tags
// to the host page's <head>. We use our own header and input instead.
export { default as MainContainer } from '@chatscope/chat-ui-kit-react/dist/es/MainContainer/index.js';
export { default as MessageList } from '@chatscope/chat-ui-kit-react/dist/es/MessageList/index.js';
export { default as Message } from '@chatscope/chat-ui-kit-react/dist/es/Message/index.js';
export { default as TypingIndicator } from '@chatscope/chat-ui-kit-react/dist/es/TypingIndicator/index.js';
