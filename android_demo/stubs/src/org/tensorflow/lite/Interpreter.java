package org.tensorflow.lite;

import androidx.annotation.NonNull;
import java.nio.ByteBuffer;
import java.util.Map;

/** LiteRT 2.1.5: Interpreter extends InterpreterImpl implements InterpreterApi; the public surface is the same. */
public final class Interpreter implements InterpreterApi {
    public Interpreter(@NonNull ByteBuffer byteBuffer, Options options) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public void run(Object input, Object output) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public int getInputTensorCount() {
        throw new RuntimeException("Stub!");
    }

    @Override
    public Tensor getInputTensor(int inputIndex) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public int getOutputTensorCount() {
        throw new RuntimeException("Stub!");
    }

    @Override
    public Tensor getOutputTensor(int outputIndex) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public void runSignature(@NonNull Map<String, Object> inputs, @NonNull Map<String, Object> outputs, String signatureKey) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public Tensor getInputTensorFromSignature(String inputName, String signatureKey) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public String[] getSignatureKeys() {
        throw new RuntimeException("Stub!");
    }

    @Override
    public String[] getSignatureInputs(String signatureKey) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public String[] getSignatureOutputs(String signatureKey) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public Tensor getOutputTensorFromSignature(String outputName, String signatureKey) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public Long getLastNativeInferenceDurationNanoseconds() {
        throw new RuntimeException("Stub!");
    }

    @Override
    public void close() {
        throw new RuntimeException("Stub!");
    }

    public static class Options extends InterpreterApi.Options {
        public Options() {
            throw new RuntimeException("Stub!");
        }

        @Override
        public Options setNumThreads(int numThreads) {
            throw new RuntimeException("Stub!");
        }

        @Override
        public Options setUseXNNPACK(boolean useXNNPACK) {
            throw new RuntimeException("Stub!");
        }
    }
}
